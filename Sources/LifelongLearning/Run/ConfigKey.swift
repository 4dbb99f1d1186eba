import Foundation

/// One key of a config section in one place: its name, its type and range, what it means, and
/// the field it sets (whose initial value is the default). A section's table of keys drives
/// reading the section (range-checked, the error naming the key), writing it back into
/// `config.yaml`, and the key reference (`docs/config.md`, checked against the table by a test).
struct ConfigKey<Settings> {
    let name: String
    /// "number in 1e-12…10", "integer in 1…10000", "string".
    let kind: String
    let doc: String
    let read: (ConfigSection, inout Settings) throws -> Void
    let write: (Settings, inout KeyedEncodingContainer<ConfigKeyName>) throws -> Void
    /// The value in `Settings`, as YAML writes it (the default, for a fresh `Settings`).
    let shown: (Settings) -> String

    static func number(_ name: String, _ field: WritableKeyPath<Settings, Float>, in range: ClosedRange<Double>, _ doc: String) -> Self {
        Self(name: name, kind: "number in \(range.lowerBound.shortDescription)…\(range.upperBound.shortDescription)", doc: doc,
             read: { section, settings in if let v = try section.float(name, in: range) { settings[keyPath: field] = v } },
             write: { settings, c in try c.encode(yamlNumber(settings[keyPath: field]), forKey: ConfigKeyName(name)) },
             shown: { yamlNumber($0[keyPath: field]).shortDescription })
    }

    static func integer(_ name: String, _ field: WritableKeyPath<Settings, Int>, in range: ClosedRange<Int>, _ doc: String) -> Self {
        Self(name: name, kind: "integer in \(range.lowerBound)…\(range.upperBound)", doc: doc,
             read: { section, settings in if let v = try section.int(name, in: range) { settings[keyPath: field] = v } },
             write: { settings, c in try c.encode(settings[keyPath: field], forKey: ConfigKeyName(name)) },
             shown: { "\($0[keyPath: field])" })
    }

    /// One of the raw values of `allowed`.
    static func choice<T: RawRepresentable & Encodable>(_ name: String, _ field: WritableKeyPath<Settings, T>, allowed: [T],
                                                        _ doc: String) -> Self where T.RawValue == String {
        Self(name: name, kind: allowed.map(\.rawValue).joined(separator: " \\| "), doc: doc,
             read: { section, settings in if let v = try section.choice(name, T.self, allowed: allowed) { settings[keyPath: field] = v } },
             write: { settings, c in try c.encode(settings[keyPath: field], forKey: ConfigKeyName(name)) },
             shown: { $0[keyPath: field].rawValue })
    }

    static func string(_ name: String, _ field: WritableKeyPath<Settings, String>, _ doc: String) -> Self {
        Self(name: name, kind: "string", doc: doc,
             read: { section, settings in if let v = try section.string(name) { settings[keyPath: field] = v } },
             write: { settings, c in try c.encode(settings[keyPath: field], forKey: ConfigKeyName(name)) },
             shown: { $0[keyPath: field] })
    }
}

/// A section's keys: read, written and documented from the one table.
struct ConfigKeys<Settings> {
    let section: String
    let keys: [ConfigKey<Settings>]

    /// Reads every key of the table that `section` holds into `settings`, then refuses any other key.
    func read(_ config: ConfigSection, into settings: inout Settings) throws {
        try readKeys(config, into: &settings)
        try config.finish()
    }

    /// Reads the table's keys only (the section has others, read by hand).
    func readKeys(_ config: ConfigSection, into settings: inout Settings) throws {
        for key in keys { try key.read(config, &settings) }
    }

    /// Every key with its value, in the table's order.
    func encode(_ settings: Settings, to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKeyName.self)
        try encode(settings, into: &c)
    }

    func encode(_ settings: Settings, into c: inout KeyedEncodingContainer<ConfigKeyName>) throws {
        for key in keys { try key.write(settings, &c) }
    }

    /// The keys' full names (`evaluation.batch_size`).
    var names: [String] { keys.map { "\(section).\($0.name)" } }

    /// The section's rows of the key reference: key, type and range, default, meaning.
    func reference(defaults: Settings) -> [[String]] {
        keys.map { ["`\(section).\($0.name)`", $0.kind, "`\($0.shown(defaults))`", $0.doc] }
    }
}

/// A key name of a config section written back.
struct ConfigKeyName: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Double {
    /// 1e-12, 10, 0.005: the shortest form that reads back the same.
    var shortDescription: String {
        if self == rounded(), abs(self) < 1e15 { return String(Int(self)) }
        return "\(self)"
    }
}
