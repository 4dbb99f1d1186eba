import Foundation
import LifelongFormats

/// A YAML mapping of a config being read: typed values with range checks, errors that name the
/// file and the key, and a record of the keys read so that `finish()` can name any it did not
/// know (a mistyped key is an error, never ignored).
public final class ConfigSection {
    public let source: String
    /// `method.` for the method section; "" at the top.
    public let prefix: String
    let values: [String: Any]
    private var read: [String] = []

    init(_ values: [String: Any], prefix: String, source: String) {
        self.values = values; self.prefix = prefix; self.source = source
    }

    public func error(_ key: String, _ message: String) -> FormatError {
        FormatError(file: source, "'\(prefix)\(key)' \(message)")
    }

    private func value(_ key: String) -> Any? {
        read.append(key)
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    public func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v as? String else { throw error(key, "must be a string") }
        return s
    }

    /// One of `allowed` (the raw values of an enum).
    public func choice<T: RawRepresentable>(_ key: String, _ type: T.Type, allowed: [T]) throws -> T? where T.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let v = T(rawValue: s) else { throw error(key, "must be one of \(allowed.map(\.rawValue).joined(separator: ", ")), not '\(s)'") }
        return v
    }

    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard !(v is Bool), let i = v as? Int else { throw error(key, "must be an integer") }
        guard range.contains(i) else { throw error(key, "must be in \(range.lowerBound)…\(range.upperBound), not \(i)") }
        return i
    }

    public func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = value(key) else { return nil }
        let d: Double
        if v is Bool { throw error(key, "must be a number") }
        if let x = v as? Double { d = x } else if let i = v as? Int { d = Double(i) } else { throw error(key, "must be a number") }
        guard d.isFinite, range.contains(d) else { throw error(key, "must be a finite number in \(range.lowerBound)…\(range.upperBound), not \(d)") }
        return d
    }

    public func float(_ key: String, in range: ClosedRange<Double>) throws -> Float? {
        try double(key, in: range).map(Float.init)
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v as? Bool else { throw error(key, "must be true or false") }
        return b
    }

    /// A list of strings (a single string is a list of one).
    public func strings(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        if let s = v as? String { return [s] }
        guard let list = v as? [Any], let strings = list as? [String], !strings.isEmpty else {
            throw error(key, "must be a non-empty list of strings")
        }
        return strings
    }

    public func section(_ key: String) throws -> ConfigSection? {
        guard let v = value(key) else { return nil }
        guard let map = v as? [String: Any] else { throw error(key, "must be a mapping") }
        return ConfigSection(map, prefix: "\(prefix)\(key).", source: source)
    }

    /// Fails on the first key of the mapping that was never read (except those in `ignoring`).
    public func finish(ignoring: Set<String> = []) throws {
        for key in values.keys.sorted() where !read.contains(key) && !ignoring.contains(key) {
            let allowed = Array(Set(read)).sorted()
            throw FormatError(file: source, "unknown key '\(prefix)\(key)' (allowed: \(allowed.joined(separator: ", ")))")
        }
    }
}
