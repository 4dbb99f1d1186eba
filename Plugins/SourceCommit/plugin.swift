import Foundation
import PackagePlugin

/// Before every build of the target, writes `SourceCommit.swift` with the git commit of the
/// checkout (`-dirty` appended when tracked files have uncommitted changes), so that a binary
/// records the commit it was built from, not the one its checkout has moved to since. The file
/// is rewritten only when its text changes, so an unchanged tree recompiles nothing.
@main struct SourceCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
        let script = """
            commit=$(git -C "$1" rev-parse HEAD 2>/dev/null) || commit=unknown
            if [ "$commit" != unknown ] && [ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                commit="$commit-dirty"
            fi
            text="let buildSourceCommit = \\"$commit\\""
            mkdir -p "$2"
            [ -f "$2/SourceCommit.swift" ] && [ "$(cat "$2/SourceCommit.swift")" = "$text" ] || printf '%s\\n' "$text" > "$2/SourceCommit.swift"
            """
        return [.prebuildCommand(displayName: "Recording the source commit",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
                                 outputFilesDirectory: output)]
    }
}
