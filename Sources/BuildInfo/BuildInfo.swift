import Protocol

/// What this binary is: the `git describe` of the checkout it was built from (generated before
/// every build by the BuildInfo plugin) and the protocol versions it speaks. Shown by
/// `--version`, sent in Hello's `software_version`, and exported as `tributary_build_info`.
public enum BuildInfo {
    /// `git describe --tags --always --dirty`, or "unknown" when built without git.
    public static var describe: String { generatedDescribe }

    /// Hello's `software_version` (at most 64 bytes).
    public static var softwareVersion: String { String("tributary \(describe)".utf8.prefix(FieldLimits.softwareVersion))! }

    /// The protocol versions, as `--version` shows them ("1", or "1-2").
    public static var protocolVersions: String { ProtocolVersion.supported.map(String.init).joined(separator: ", ") }

    /// `tributary v0.1.0-12-gabcdef0 (protocol 1)`: what `--version` prints.
    public static var versionLine: String { "tributary \(describe) (protocol \(protocolVersions))" }
}
