import Foundation
import LifelongEngine
import LifelongFormats

/// transformers' Mixtral (`MixtralForCausalLM`): Llama's blocks with a sparse mixture of SwiGLU
/// experts in every feed-forward place — the form a Lifelong-MoE model takes outside LifelongLM,
/// and that `--model` reads back. Its checkpoint names a block's mixture `block_sparse_moe`, the
/// router `gate`, and an expert's gate / down / up projections `w1` / `w2` / `w3`.
extension DecoderLM {
    /// Lifelong-MoE's model as transformers' Mixtral: a Llama whose every feed-forward layer is a
    /// sparse mixture with softmax-over-the-chosen gates — the routing `MixtureOfExperts` computes.
    /// A block that kept its dense layer becomes E identical experts and a zero router: whichever
    /// k of them a token takes, their gates sum to 1 and the output is the dense layer's, exactly.
    ///
    /// Refused, with the reason, where Mixtral would compute something else: another family than
    /// Llama, layers with different numbers of experts or top-k, or a capacity factor (Mixtral
    /// drops no token).
    func mixtralExport() throws -> ExportedModel {
        let mixtures = modules(of: MixtureOfExperts.self).map(\.module)
        guard config.architecture == .llama else {
            throw RequestError("a \(config.architecture.rawValue) model with mixtures of experts has no transformers class to load it "
                               + "(transformers' Mixtral is built on Llama's blocks): export its hf format is not possible")
        }
        let expertCount = mixtures[0].experts.count, topK = mixtures[0].topK
        guard mixtures.allSatisfy({ $0.experts.count == expertCount && $0.topK == topK }) else {
            throw RequestError("the mixtures have different numbers of experts or top-k "
                               + "(\(mixtures.map { "\($0.experts.count)/\($0.topK)" }.joined(separator: ", "))); Mixtral needs one of each")
        }
        if let factor = mixtures.first(where: { $0.capacityFactor != nil })?.capacityFactor {
            throw RequestError("the mixtures drop tokens over capacity (capacity_factor \(factor)); Mixtral drops none, so it would compute another model")
        }
        var tensors = namedParameters.filter { name, _ in !name.contains(".\(names.feedForward).") }
        for (index, block) in blocks.enumerated() {
            let prefix = "\(names.blocks).\(index).block_sparse_moe"
            let experts: [any DenseFeedForward], router: Tensor
            if let mixture = block.mlp as? MixtureOfExperts {
                experts = mixture.experts
                router = concatenateRows(mixture.routerBlocks.map(\.weight))
            } else if let dense = block.mlp as? any DenseFeedForward {
                experts = Array(repeating: dense, count: expertCount)
                router = Tensor(zeros: [expertCount, config.hiddenSize])
            } else {
                throw RequestError("block \(index)'s feed-forward layer (\(type(of: block.mlp))) has no Mixtral form")
            }
            tensors.append(("\(prefix).gate.weight", router))
            for (e, expert) in experts.enumerated() {
                // Mixtral's w1 is Llama's gate_proj, w2 its down_proj, w3 its up_proj.
                let weights = Dictionary(uniqueKeysWithValues: expert.namedParameters)
                for (ours, theirs) in [("gate_proj.weight", "w1"), ("down_proj.weight", "w2"), ("up_proj.weight", "w3")] {
                    guard let weight = weights[ours] else { throw RequestError("expert \(e) of block \(index) has no \(ours)") }
                    tensors.append(("\(prefix).experts.\(e).\(theirs).weight", weight))
                }
            }
        }
        var json = Llama.rotaryHuggingFaceConfig(config, modelType: "mixtral", className: "MixtralForCausalLM")
        json["num_local_experts"] = expertCount
        json["num_experts_per_tok"] = topK
        json["output_router_logits"] = false
        json["sliding_window"] = NSNull()
        return ExportedModel(config: json, tensors: tensors)
    }

    /// Loads a Mixtral directory (`model_type: mixtral`): a Llama with a mixture of
    /// `num_local_experts` experts, top-`num_experts_per_tok`, in every block.
    convenience init(mixtralDirectory directory: String) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let json = try JSONFields(contentsOf: configPath)
        let config = try Llama.rotaryConfig(json, architecture: .llama, tiedByDefault: false)
        do { try config.validate() } catch let error as FormatError { throw FormatError(file: configPath, error.message) }
        let experts = try json.int("num_local_experts", in: 1...1024)
        let topK = try json.int("num_experts_per_tok", in: 1...experts)
        let checkpoint = try TensorCheckpoint(directory: directory)
        self.init(config: config, seed: nil)
        var unset: SeededGenerator? = nil
        installMixturesOfExperts(every: 1, experts: experts, topK: topK, capacityFactor: nil, rng: &unset)
        if !config.tieWordEmbeddings && !checkpoint.contains("lm_head.weight") {
            throw FormatError(file: checkpoint.primaryPath, "has no 'lm_head.weight', but the config sets tie_word_embeddings: false")
        }
        try checkpoint.load(into: namedParameters.map { (Self.mixtralName($0.name), $0.tensor) }, optionalPrefix: names.root,
                            ignoring: ["rotary_emb.inv_freq"] + (config.tieWordEmbeddings ? ["lm_head.weight"] : []))
    }

    /// Mixtral's name of one of our parameters (`model.layers.3.mlp.experts.1.up_proj.weight` →
    /// `model.layers.3.block_sparse_moe.experts.1.w3.weight`); other names are the same.
    static func mixtralName(_ name: String) -> String {
        guard let range = name.range(of: ".mlp.") else { return name }
        let head = name[..<range.lowerBound], tail = name[range.upperBound...]
        let renamed = tail.replacingOccurrences(of: "router.0.", with: "gate.")
            .replacingOccurrences(of: "gate_proj.", with: "w1.").replacingOccurrences(of: "down_proj.", with: "w2.")
            .replacingOccurrences(of: "up_proj.", with: "w3.")
        return "\(head).block_sparse_moe.\(renamed)"
    }
}

/// [a; b; …]: matrices with the same number of columns stacked row-wise.
private func concatenateRows(_ matrices: [Tensor]) -> Tensor {
    Tensor(matrices.flatMap(\.scalars), shape: [matrices.reduce(0) { $0 + $1.shape[0] }, matrices[0].shape[1]])
}
