import Foundation
import LifelongEngine
import LifelongFormats

/// The tensors of a checkpoint, from one safetensors file or a sharded set
/// (`model.safetensors.index.json` mapping each name to its shard).
public struct TensorCheckpoint {
    private var location: [String: (file: SafetensorsFile, entry: SafetensorsFile.Entry)] = [:]

    public init(files: [SafetensorsFile]) throws {
        for file in files {
            for entry in file.entries {
                guard location[entry.name] == nil else {
                    throw FormatError(file: file.path, "tensor '\(entry.name)' is also in \(location[entry.name]!.file.path)")
                }
                location[entry.name] = (file, entry)
            }
        }
    }

    /// `model.safetensors`, or the shards listed in `model.safetensors.index.json`, in `directory`.
    public init(directory: String) throws {
        let single = (directory as NSString).appendingPathComponent("model.safetensors")
        let indexPath = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single) {
            try self.init(files: [SafetensorsFile(path: single)])
        } else if FileManager.default.fileExists(atPath: indexPath) {
            guard let data = try? UserFile.data(indexPath),
                  let json = try StrictJSON.object(data, file: indexPath) as? [String: Any],
                  let weightMap = json["weight_map"] as? [String: String] else {
                throw FormatError(file: indexPath, "expected a JSON object with a 'weight_map' of name → shard file")
            }
            let shards = Set(weightMap.values).sorted()
            for shard in shards where shard.contains("/") || shard.hasPrefix(".") {
                throw FormatError(file: indexPath, "shard name '\(shard)' must be a plain file name")
            }
            try self.init(files: shards.map { try SafetensorsFile(path: (directory as NSString).appendingPathComponent($0)) })
            for (name, shard) in weightMap where location[name]?.file.path.hasSuffix("/" + shard) != true {
                throw FormatError(file: indexPath, "tensor '\(name)' is not in its shard \(shard)")
            }
        } else {
            throw FormatError(file: directory, "no model.safetensors or model.safetensors.index.json")
        }
    }

    public var names: [String] { Array(location.keys) }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    public func shape(_ name: String) -> [Int]? { location[name]?.entry.shape }

    /// The number of values in all the tensors (their shapes were checked against the file's bytes).
    public var elementCount: Int { location.values.reduce(0) { $0 + $1.entry.shape.reduce(1, *) } }

    /// The file a message about the checkpoint names.
    public var primaryPath: String { Set(location.values.map(\.file.path)).sorted().first ?? "checkpoint" }

    /// Fills `parameters` by name. A checkpoint name may lack `optionalPrefix`; every parameter must
    /// be found, and every checkpoint tensor used, except names ending in one of `ignoring`.
    public func load(into parameters: [(name: String, tensor: Tensor)], optionalPrefix: String, ignoring: [String]) throws {
        var used = Set<String>()
        for (name, tensor) in parameters {
            let candidates = [name, optionalPrefix + name, name.hasPrefix(optionalPrefix) ? String(name.dropFirst(optionalPrefix.count)) : name]
            guard let found = candidates.first(where: contains) else {
                throw FormatError(file: primaryPath, "missing parameter '\(name)'")
            }
            try read(found, into: tensor)
            used.insert(found)
        }
        let unexpected = names.filter { name in !used.contains(name) && !ignoring.contains(where: name.hasSuffix) }
        if !unexpected.isEmpty {
            throw FormatError(file: primaryPath, "tensors the model has no place for: \(unexpected.sorted().prefix(5).joined(separator: ", "))")
        }
    }

    /// Copies tensor `name` (converted to fp32) into `destination`, whose shape must match.
    public func read(_ name: String, into destination: Tensor) throws {
        guard let (file, entry) = location[name] else { throw FormatError(file: primaryPath, "missing tensor '\(name)'") }
        guard entry.shape == destination.shape else {
            throw FormatError(file: file.path, "tensor '\(name)' has shape \(entry.shape), the model expects \(destination.shape)")
        }
        try file.readFloats(entry, into: destination.data)
        try destination.requireFinite(name, file: file.path)
    }
}

extension Tensor {
    /// A weight read from a file must be a number: NaN or infinity would only surface later as
    /// non-finite logits or a diverged run, far from the file at fault.
    func requireFinite(_ name: String, file: String) throws {
        if let bad = data.firstIndex(where: { !$0.isFinite }) {
            throw FormatError(file: file, "tensor '\(name)' holds a non-finite value (\(data[bad]) at index \(bad))")
        }
    }
}

extension DecoderLM {
    /// Loads a Hugging Face directory: `config.json` plus `model.safetensors` (or shards).
    public convenience init(huggingFaceDirectory directory: String) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        if try JSONFields(contentsOf: configPath).string("model_type") == "mixtral" {
            try self.init(mixtralDirectory: directory)
            return
        }
        let config = try DecoderConfig.huggingFace(configAt: configPath)
        let checkpoint = try TensorCheckpoint(directory: directory)
        try config.checkFits(elements: checkpoint.elementCount, file: configPath)
        self.init(config: config, seed: nil)
        try load(checkpoint)
    }

    /// Sets every parameter from the checkpoint. Names may omit the `transformer.` / `model.`
    /// prefix (original GPT-2 files do). Every parameter must be present; a tensor the model has no
    /// place for is an error too, except buffers that hold no weights.
    public func load(_ checkpoint: TensorCheckpoint) throws {
        if !config.tieWordEmbeddings && !checkpoint.contains("lm_head.weight") {
            throw FormatError(file: checkpoint.primaryPath, "has no 'lm_head.weight', but the config sets tie_word_embeddings: false (an untied output layer)")
        }
        try checkpoint.load(into: namedParameters, optionalPrefix: names.root,
                            ignoring: [".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq"]
                                + (config.tieWordEmbeddings ? ["lm_head.weight"] : []))
    }

    /// Writes all parameters to a safetensors file (atomically).
    public func save(to path: String) throws {
        try SafetensorsFile.write(namedParameters, to: path)
    }
}
