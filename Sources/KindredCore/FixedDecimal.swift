import Foundation  // String(format:), for the values the fast path leaves to printf

extension BinaryFloatingPoint {
    /// The value with `digits` decimals (0 to 9), exactly as `String(format: "%.<digits>f")`
    /// prints it (sign, rounding, "-0.0000" included), for the scores and coordinates the verbs
    /// print on every answer. Foundation's formatter on Linux costs 4.7–6.4 µs a call, 3 % of a
    /// SIMILAR's CPU for its ten scores (perf, RESULTS.md), and seconds for a million cluster
    /// members' three coordinates. The fast path scales and rounds in Double, and hands printf
    /// what it cannot decide: non-finite values, magnitudes past 2³² once scaled (where the
    /// product's rounding error could reach 10⁻⁶), and values whose scaled fraction is within
    /// 10⁻⁶ of a half, where that error could tip the rounding the other way from printf's, which
    /// rounds the exact binary value.
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
        let negative = value.sign == .minus
        // The digits of units (under 2³²: at most 10), zero-padded to one more than the
        // decimals, then "." and "-" where due: written back to front into the string's own
        // storage (0.2–0.4 µs a call here, against String(format:)'s 4.7–6.4).
        var digitsLeft = units, length = 0
        repeat {
            length += 1
            digitsLeft /= 10
        } while digitsLeft > 0
        length = max(length, precision + 1) + (precision > 0 ? 1 : 0) + (negative ? 1 : 0)
        return String(unsafeUninitializedCapacity: length) { bytes in
            var rest = units, at = length
            for place in 0..<(length - (negative ? 1 : 0)) {
                at -= 1
                if precision > 0, place == precision {
                    bytes[at] = UInt8(ascii: ".")
                    continue
                }
                bytes[at] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            if negative { bytes[0] = UInt8(ascii: "-") }
            return length
        }
    }
}

private enum Fixed {
    static let powers: [Double] = (0...9).map { pow(10, Double($0)) }
}
