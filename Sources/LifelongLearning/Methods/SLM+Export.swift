import Foundation
import LifelongEngine
import LifelongFormats

extension SLM {
    /// Task i owns slots i·S ..< (i+1)·S.
    public var slotOwners: [String] { tasks.flatMap { Array(repeating: $0, count: settings.slotsPerTask) } }

    /// `keys.safetensors` (one key per slot, [slots, width]), `retrieval.json` (the settings that
    /// decide the mixture) and a README saying how an example picks its slots — what a user of the
    /// adapters needs to reproduce SLM's prediction without LifelongLM.
    public func writeSlotRetrieval(into folder: String) throws {
        let slots = slotCount
        guard slots > 0 else { return }
        try SafetensorsFile.write([("keys", Tensor(keys, shape: [slots, keys.count / slots]))], metadata: ["format": "pt"],
                                  to: (folder as NSString).appendingPathComponent("keys.safetensors"))
        var json: [String: Any] = [
            "encoder": settings.encoder, "groups": settings.groups, "retrieved_slots": settings.topK,
            "slots_per_task": settings.slotsPerTask, "tasks": tasks, "slot_owners": slotOwners,
            "retrieval": settings.oracleTask ? "oracle_task" : settings.retrieval.rawValue, "answer_separator": settings.separator]
        json["scale"] = settings.scale.map { Double($0) } ?? NSNull()
        try ExportDirectory.writeJSON(json, to: (folder as NSString).appendingPathComponent("retrieval.json"))
        let readme = """
            # How SLM picks its slots

            Each slot is one LoRA adapter (`../adapters/<task>/slot<j>/`) plus one key (row j of
            `keys.safetensors`). For an input, SLM

            1. embeds the query text (the example's context and question, no special tokens) with the
               sentence encoder `\(settings.encoder)` (mean pooling, L2-normalised);
            2. scores every slot j: s_j = mean over \(settings.groups) equal chunks g of cos(q_g, key_{j,g});
            3. keeps the \(settings.topK) slots with the largest s_j (the lower index on ties) and
               weights them w_j = max(s_j, 1e-6) / Σ max(s, 1e-6) over the kept ones\
            \(settings.scale.map { ", times the scale \($0)" } ?? "");
            4. runs the frozen backbone with every targeted projection computing
               y = W·x + Σ_j w_j · B_j·A_j·x, i.e. each adapter at weight w_j
               (in peft: `add_weighted_adapter` or one adapter at a time with `scaling` w_j).

            `retrieval.json` holds these settings, the task that owns each slot and the separator
            that marks answers (`\(settings.separator)`).
            """
        try writeAtomically(Data(readme.utf8), to: (folder as NSString).appendingPathComponent("README.md"))
    }
}
