/// The version that `kindred --version` and `kindredd --version` print.
public enum KindredVersion {
    public static let string = "0.1.0"
}
