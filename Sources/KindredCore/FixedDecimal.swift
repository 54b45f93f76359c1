import Foundation  // String(format:), for the values the fast path leaves to printf

extension BinaryFloatingPoint {
    /// The value with `digits` decimals, exactly as `String(format: "%.<digits>f")` prints it
    /// (sign, rounding, "-0.0000" included), for the scores and coordinates the verbs print on
    /// every answer. Foundation's formatter on Linux costs ~4.6 µs a call, 3 % of a SIMILAR's
    /// CPU for its ten scores (perf, RESULTS.md) and seconds for a million cluster members' three
    /// coordinates. The fast path scales and rounds in Double and hands printf what it cannot
    /// decide: non-finite values, magnitudes past 2³² once scaled (where the product's rounding error could reach 10⁻⁶), and values whose scaled
    /// fraction is within 10⁻⁶ of a half, where the product's own rounding could pick the other
    /// side of the exact binary value printf rounds.
    public func fixed(_ digits: Int) -> String {
        let value = Double(self)
        let precision = min(max(digits, 0), 9)
        let scale = Fixed.powers[precision]
        let scaled = value.magnitude * scale
        let fraction = scaled - scaled.rounded(.down)
        guard value.isFinite, scaled < 0x1p32, (fraction - 0.5).magnitude > 1e-6 else {
            return String(format: "%.\(precision)f", value)
        }
        let units = UInt64(scaled.rounded(.toNearestOrEven))
        let whole = units / UInt64(scale), part = units % UInt64(scale)
        var text = value.sign == .minus ? "-" : ""
        text += String(whole)
        guard precision > 0 else { return text }
        let decimals = String(part)
        text += "."
        text += String(repeating: "0", count: precision - decimals.count)
        text += decimals
        return text
    }
}

private enum Fixed {
    static let powers: [Double] = (0...9).map { pow(10, Double($0)) }
}
