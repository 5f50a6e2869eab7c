import Domain

/// Decides whether an optimizer step may be applied: a non-finite loss or gradient (poisoned
/// data, an overflow) would make every later version garbage, so such an update is skipped,
/// counted and named instead (docs/security.md).
public enum UpdateGuard {
    public struct Skip: Sendable, Equatable {
        /// The counter label: non_finite_loss, non_finite_gradient, non_finite_parameters.
        public var reason: String
        public var detail: String
    }

    public static func check(loss: Double, gradient: [Float]) -> Skip? {
        if !loss.isFinite { return Skip(reason: "non_finite_loss", detail: "the loss is \(loss)") }
        if !allFinite(gradient) {
            let bad = gradient.filter { !$0.isFinite }.count
            return Skip(reason: "non_finite_gradient", detail: "\(bad) of \(gradient.count) gradient entries are NaN or infinite")
        }
        return nil
    }
}
