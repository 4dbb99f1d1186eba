import Foundation
import LifelongEngine
import LifelongFormats
import LifelongModels

extension RunExport {
    private func file(_ folder: String, _ components: String...) -> String {
        components.reduce(folder) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// The note for a model whose SLM slots an hf or GGUF export leaves out.
    private var slotsLeftOut: [String] {
        model.lowRankMixtureLayers.isEmpty ? []
            : ["the low-rank slots (SLM) are not in this export, which holds the frozen backbone: export them with --format peft"]
    }

    /// `config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json` and
    /// `generation_config.json`: what `AutoModelForCausalLM.from_pretrained` and
    /// `AutoTokenizer.from_pretrained` load, and `lifelong generate --model` reads back.
    func writeHuggingFace(into folder: String) throws -> [String] {
        let exported = try model.huggingFaceExport()
        let bos = tokenizer.bosToken ?? endOfExample
        var config = exported.config
        config["bos_token_id"] = bos
        config["eos_token_id"] = endOfExample
        config["pad_token_id"] = endOfExample
        config["dtype"] = "float32"
        try ExportDirectory.writeJSON(config, to: file(folder, "config.json"))
        try SafetensorsFile.write(exported.tensors, metadata: ["format": "pt"], to: file(folder, "model.safetensors"))
        try writeAtomically(try tokenizer.huggingFaceJSON(), to: file(folder, "tokenizer.json"))
        try ExportDirectory.writeJSON([
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": tokenizer.tokens[bos],
            "eos_token": tokenizer.tokens[endOfExample], "pad_token": tokenizer.tokens[endOfExample],
            "model_max_length": model.config.maxPositions, "clean_up_tokenization_spaces": false,
            "add_bos_token": false, "add_eos_token": false,
        ] as [String: Any], to: file(folder, "tokenizer_config.json"))
        try ExportDirectory.writeJSON(["bos_token_id": bos, "eos_token_id": endOfExample, "pad_token_id": endOfExample, "do_sample": false],
                      to: file(folder, "generation_config.json"))
        return slotsLeftOut
    }

    /// `model.gguf`: the model in the family's GGUF layout with the tokenizer's metadata (padded
    /// with unused `[PAD<id>]` tokens where the embedding has more rows than the vocabulary).
    func writeGGUF(into folder: String, storage: GGUFWriter.Storage) throws -> [String] {
        var gguf = try model.ggufExport(storage: storage, name: (runDirectory as NSString).lastPathComponent)
        for (key, value) in tokenizer.ggufMetadata(addedFrom: baseVocabularySize, vocabularySize: model.config.vocabSize) {
            gguf.set(key, value)
        }
        try gguf.write(to: file(folder, "model.gguf"))
        return slotsLeftOut
    }

    /// SLM's slots as PEFT LoRA adapters, `adapters/<task>/slot<j>/` (`adapter_config.json` +
    /// `adapter_model.safetensors`: lora_A = A_j, lora_B = B_jᵀ, lora_alpha = r, so one adapter at
    /// scaling 1 adds exactly slot j's increment), with `retrieval/` (the keys and how an example
    /// picks its slots); and for every method `pseudo_samples/` and `predictions/` as JSONL.
    func writePEFT(into folder: String) throws -> [String] {
        var notes: [String] = []
        let layers = model.modules(of: LowRankMixtureLinear.self), owners = method.slotOwners
        if layers.isEmpty || owners.isEmpty {
            notes.append("\(method.name) trains no low-rank slots: this export holds the run's pseudo-samples and predictions only")
        } else {
            guard layers.allSatisfy({ $0.module.slotCount == owners.count }) else {
                throw FormatError(file: checkpoint, "the low-rank layers hold \(layers.map(\.module.slotCount)) slots; the method's state names \(owners.count)")
            }
            var index: [String: Int] = [:]
            for (slot, task) in owners.enumerated() {
                let j = index[task, default: 0]
                index[task] = j + 1
                let adapter = file(folder, "adapters", try ExportDirectory.plainName(task, what: "task"), "slot\(j)")
                try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: true)
                try writeAdapter(slot: slot, layers: layers, into: adapter)
            }
            let retrieval = file(folder, "retrieval")
            try FileManager.default.createDirectory(atPath: retrieval, withIntermediateDirectories: true)
            try method.writeSlotRetrieval(into: retrieval)
        }
        notes += try copyJSONL(from: LAMOL.samplesFolder, to: file(folder, "pseudo_samples"), what: "pseudo-samples")
        notes += try copyJSONL(from: ArtefactStore.predictionsFolder, to: file(folder, "predictions"), what: "final predictions")
        return notes
    }

    private func writeAdapter(slot: Int, layers: [(path: String, module: LowRankMixtureLinear)], into folder: String) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (path, layer) in layers {
            tensors.append(("base_model.model.\(path).lora_A.weight", layer.a[slot]))
            tensors.append(("base_model.model.\(path).lora_B.weight", layer.b[slot].transposedValues()))
        }
        try SafetensorsFile.write(tensors, metadata: ["format": "pt"], to: file(folder, "adapter_model.safetensors"))
        let rank = layers[0].module.rank
        try ExportDirectory.writeJSON([
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": rank, "lora_dropout": 0.0,
            "target_modules": layers.map(\.path), "bias": "none",
            // GPT-2's projections are Conv1D ([in, out]); peft needs to be told.
            "fan_in_fan_out": layers[0].module.base.layout == .inOut,
            "inference_mode": true, "base_model_name_or_path": NSNull(), "init_lora_weights": true, "use_rslora": false,
            "use_dora": false, "modules_to_save": NSNull(), "layers_to_transform": NSNull(), "layers_pattern": NSNull(),
            "rank_pattern": [String: Int](), "alpha_pattern": [String: Int](), "revision": NSNull(),
        ] as [String: Any], to: file(folder, "adapter_config.json"))
    }

    /// Copies the run's `<folder>/<task>.jsonl` files (each line checked to be JSON) into
    /// `destination`; a note when the run has none.
    private func copyJSONL(from folder: String, to destination: String, what: String) throws -> [String] {
        let source = file(runDirectory, folder)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: source)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        guard !names.isEmpty else { return ["the run wrote no \(what) (\(folder)/)"] }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for name in names {
            let path = file(source, name), data = try UserFile.data(path)
            for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
                guard (try? JSONSerialization.jsonObject(with: line)) != nil else {
                    throw FormatError(file: path, "line \(number + 1) is not JSON")
                }
            }
            try writeAtomically(data, to: file(destination, try ExportDirectory.plainName(name, what: "file")))
        }
        return []
    }
}
