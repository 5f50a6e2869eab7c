import Domain

extension ModelSpec {
    /// The wire's description (`Welcome.model`, `Weights.model`).
    public var wire: Tributary_V1_ModelSpec {
        var w = Tributary_V1_ModelSpec()
        w.family = family
        w.hiddenSizes = hiddenSizes.map { UInt32(clamping: $0) }
        w.activation = activation
        w.head = head
        w.observationSize = UInt32(clamping: observationSize)
        w.actionSize = UInt32(clamping: actionSize)
        return w
    }

    public init(wire w: Tributary_V1_ModelSpec) {
        self.init(family: w.family, hiddenSizes: w.hiddenSizes.map(Int.init), activation: w.activation, head: w.head,
                  observationSize: Int(w.observationSize), actionSize: Int(w.actionSize))
    }
}
