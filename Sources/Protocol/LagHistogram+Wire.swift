import Domain

extension Tributary_V1_LagHistogram {
    public init(_ h: LagHistogram) {
        self.init()
        counts = h.counts  // already without trailing empty buckets
        if let m = h.maxLag { max = m }
        sum = h.sum
    }
}

extension LagHistogram {
    /// The histogram a status reply carries (a reply without `max` gets the top of its
    /// highest bucket).
    public init(_ wire: Tributary_V1_LagHistogram) {
        var counts = wire.counts
        if let last = counts.lastIndex(where: { $0 > 0 }) { counts.removeSubrange((last + 1)...) } else { counts = [] }
        self.init(counts: counts, maxLag: wire.hasMax ? wire.max : nil, sum: wire.sum)
    }
}
