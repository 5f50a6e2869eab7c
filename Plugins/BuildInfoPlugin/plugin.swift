import Foundation
import PackagePlugin

/// Writes the `BuildInfo` module's generated source before every build: `git describe` of the
/// checkout (scripts/build-info.sh), so `--version` names the commit the binary was built from.
/// The script rewrites the file only when the description changed, so a build that changed
/// nothing recompiles nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = context.package.directoryURL.appending(path: "scripts/build-info.sh")
        return [
            .prebuildCommand(
                displayName: "BuildInfo: git describe",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, context.package.directoryURL.path, output.path],
                outputFilesDirectory: output),
        ]
    }
}
