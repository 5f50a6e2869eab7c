extension Tributary_V1_BufferConfig {
    /// The admission bound in force: where the lag target has moved η, or the configured η
    /// (all a learner older than the lag target reports); nil when admission is unbounded.
    public var etaInForce: UInt64? {
        hasAdmissionEta ? admissionEta : hasEta ? eta : nil
    }
}
