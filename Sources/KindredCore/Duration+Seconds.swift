extension Duration {
    /// The duration in seconds, unrounded.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
