import Foundation

/// The fields of a JSON object read from a file (a model's `config.json`): each value must have
/// the expected type and lie in range, or the error names the file and the key. `true` is not 1,
/// 16.5 is not 16 and 1e20 is not an integer, although JSONSerialization gives all of them as
/// NSNumber.
public struct JSONFields {
    public let path: String
    public let values: [String: Any]

    public init(path: String, values: [String: Any]) { self.path = path; self.values = values }

    /// Reads the file, which must hold one JSON object.
    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError.io(file: path, "cannot read the file (\(describeFileError(error)))")
        }
        guard let object = try StrictJSON.object(data, file: path) as? [String: Any] else {
            throw FormatError(file: path, "not a JSON object")
        }
        self.init(path: path, values: object)
    }

    public func error(_ key: String, _ message: String) -> FormatError { FormatError(file: path, "field '\(key)' \(message)") }

    private func present(_ key: String) -> Any? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    /// An exact integer in `range`; nil when the key is absent (or null).
    public func optionalInt(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = present(key) else { return nil }
        guard let i = Self.integer(v) else { throw error(key, "must be an integer, not \(v)") }
        guard range.contains(i) else { throw error(key, "must be in \(range.lowerBound)…\(range.upperBound), not \(i)") }
        return i
    }

    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let i = try optionalInt(key, in: range) else { throw error(key, "is missing") }
        return i
    }

    /// A finite number in `range`, or `fallback` when the key is absent.
    public func float(_ key: String, default fallback: Float, in range: ClosedRange<Double>) throws -> Float {
        guard let v = present(key) else { return fallback }
        guard let d = Self.number(v), d.isFinite, range.contains(d) else {
            throw error(key, "must be a finite number in \(range.lowerBound)…\(range.upperBound), not \(v)")
        }
        return Float(d)
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let v = present(key) else { return fallback }
        guard Self.isBoolean(v), let b = v as? Bool else { throw error(key, "must be true or false, not \(v)") }
        return b
    }

    public func string(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw error(key, "must be a string, not \(v)") }
        return s
    }

    /// JSON `true`/`false` (Foundation's boolean NSNumber, objCType "c").
    public static func isBoolean(_ value: Any) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    /// A JSON number that is not a boolean.
    public static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, !isBoolean(value) else { return nil }
        return n.doubleValue
    }

    /// A JSON number that is an exact integer within ±2^53 (beyond that a double is not exact).
    public static func integer(_ value: Any) -> Int? { number(value).flatMap { integer(exactly: $0) } }

    /// `d` as an Int when it is a whole number within ±2^53 (beyond that a double is not exact).
    public static func integer(exactly d: Double) -> Int? {
        guard d.isFinite, d == d.rounded(), abs(d) <= 9_007_199_254_740_992 else { return nil }
        return Int(d)
    }
}

/// A file-system error in words ("no such file", "permission denied"), without Foundation's
/// NSCocoaErrorDomain dump.
public func describeFileError(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file"
    case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
    case .fileWriteOutOfSpace: return "no space left on the device"
    case .fileWriteVolumeReadOnly: return "read-only file system"
    case .fileReadCorruptFile: return "the file is damaged"
    case .fileReadInapplicableStringEncoding: return "not valid text in the expected encoding"
    default:
        if let path = ns.userInfo[NSFilePathErrorKey] as? String, let file = fileInThePath(path) {
            return "\(file) is a file, not a directory"
        }
        return ns.localizedDescription
    }
}

/// The first existing ancestor of `path` that is not a directory (creating a directory under a
/// file fails with Foundation's unspecific error 512).
private func fileInThePath(_ path: String) -> String? {
    var ancestor = (path as NSString).deletingLastPathComponent
    while !ancestor.isEmpty && ancestor != "/" {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) { return isDirectory.boolValue ? nil : ancestor }
        ancestor = (ancestor as NSString).deletingLastPathComponent
    }
    return nil
}
