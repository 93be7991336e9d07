#!/usr/bin/env python3
"""Unit tests of torch_eval.py's checkpoint reading and architecture choice; they need no PyTorch.

  python3 -m unittest scripts/test_torch_eval.py     (the samples' JUnit suite runs this too)
"""
import json
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_eval  # noqa: E402


def write_checkpoint(path, metadata):
    header = {"__metadata__": metadata, "0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    text = json.dumps(header).encode()
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + struct.pack("<f", 1.0))


class ArchitectureTest(unittest.TestCase):
    def test_each_image_sample(self):
        self.assertEqual(("mlp", {"hidden": 32}), torch_eval.architecture({"sample": "mlp", "hidden": "32"}))
        self.assertEqual(("cnn", {"width": 16}), torch_eval.architecture({"sample": "cnn", "width": "16", "resnet": "false"}))
        self.assertEqual(("resnet", {"width": 8}), torch_eval.architecture({"sample": "cnn", "width": "8", "resnet": "true"}))
        self.assertEqual(("vit", {"patch": 7, "dim": 64, "heads": 4, "layers": 3}), torch_eval.architecture(
            {"sample": "vit", "patch": "7", "dim": "64", "heads": "4", "layers": "3", "test_accuracy": "0.9"}))

    def test_refusals_say_why(self):
        with self.assertRaisesRegex(torch_eval.CheckpointError, "'charlm' checkpoints are not supported.*mlp, cnn"):
            torch_eval.architecture({"sample": "charlm", "dim": "96"})
        with self.assertRaisesRegex(torch_eval.CheckpointError, "no 'sample' metadata"):
            torch_eval.architecture({})
        with self.assertRaisesRegex(torch_eval.CheckpointError, "lacks width"):
            torch_eval.architecture({"sample": "cnn", "test_accuracy": "0.9"})


class HeaderTest(unittest.TestCase):
    def test_reads_metadata_and_entries(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d, "m.safetensors")
            write_checkpoint(path, {"sample": "mlp", "hidden": "4"})
            entries, metadata = torch_eval.read_header(path)
            self.assertEqual({"sample": "mlp", "hidden": "4"}, metadata)
            self.assertEqual(["0.weight"], list(entries))

    def test_training_state_gives_its_model_entries(self):
        entries = {"model.0.weight": {"dtype": "F32"}, "optimizer.0.exp_avg": {"dtype": "F32"},
                   "optimizer.0.step": {"dtype": "I64"}, "rng.1": {"dtype": "I64"}}
        self.assertEqual({"0.weight": {"dtype": "F32"}},
                         torch_eval.model_entries(entries, {"sample": "mlp", "jdl.optimizer": "io.jdl.optim.Adam"}))
        plain = {"0.weight": {"dtype": "F32"}}
        self.assertIs(plain, torch_eval.model_entries(plain, {"sample": "mlp"}))

    def test_not_safetensors(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d, "x")
            path.write_bytes(b"\x7fELF\x00\x00\x00\x00\x00\x00")
            with self.assertRaisesRegex(torch_eval.CheckpointError, "not a safetensors file"):
                torch_eval.read_header(path)

    def test_describe_needs_no_torch_and_refuses_charlm_with_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d, "m.safetensors")
            write_checkpoint(path, {"sample": "vit", "patch": "7", "dim": "16", "heads": "2", "layers": "1"})
            self.assertEqual(0, torch_eval.main([str(path), "--describe"]))
            write_checkpoint(path, {"sample": "charlm"})
            self.assertEqual(2, torch_eval.main([str(path), "--describe"]))
            self.assertEqual(2, torch_eval.main([str(Path(d, "missing")), "--describe"]))


if __name__ == "__main__":
    unittest.main()
