"""Model zoo data: model cards (cards/*.toml) and the embedded synth-* ONNX files."""
