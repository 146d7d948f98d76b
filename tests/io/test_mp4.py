"""The stimulus mp4 muxer: files that FFmpeg and OpenCV read back frame-exact, at the right rate."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from motionscope.io.mp4 import annexb_nals, avcc_record, h264_mp4_bytes
from motionscope.stimuli.encode import ClipEncoder, gray_to_i420


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, tuple[int, int]]:
    out, pos, end = {}, start, len(data) if end is None else end
    while pos < end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out[kind] = (pos + 8, pos + size)
        pos += size
    return out


def _clip(T: int = 5, qp: int = 18) -> tuple[np.ndarray, list[bytes]]:
    rng = np.random.default_rng(0)
    g = np.zeros((T, 48, 64), np.uint8)
    for t in range(T):
        y, x = rng.integers(4, 40, 2)
        g[t, y:y + 3, x:x + 3] = 255
    enc = ClipEncoder(64, 48, qp=qp)
    yuv = gray_to_i420(g)
    return g, enc._clip(lambda t: enc._fill_i420(yuv[t]), T)


def test_annexb_split_handles_both_start_code_lengths():
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88\x80"
    assert annexb_nals(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88\x80"]
    with pytest.raises(ValueError, match="Annex B"):
        annexb_nals(b"\x67\x42\x00\x00\x01\x68")


@pytest.mark.parametrize("qp", [18, 0])  # Constrained Baseline, and lossless High 4:4:4
def test_decoders_read_frames_rate_and_keyframe(tmp_path, qp):
    import av
    import cv2

    g, packets = _clip(qp=qp)
    path = tmp_path / "c.mp4"
    path.write_bytes(h264_mp4_bytes(packets, 64, 48, 7.5))
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert (s.frames, s.average_rate, s.width, s.height) == (5, 7.5, 64, 48)
        frames = list(c.decode(s))
    assert [f.key_frame for f in frames] == [True, False, False, False, False]
    y = np.stack([f.to_ndarray(format="gray") for f in frames]).astype(int)
    err = np.abs(y - g).max()
    assert err <= (1 if qp == 0 else 255) and np.abs(y - g).mean() < 1.0
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 5 and cap.get(cv2.CAP_PROP_FPS) == 7.5
    cap.release()


def test_layout_moov_first_and_sample_table_points_at_the_samples():
    _, packets = _clip()
    data = h264_mp4_bytes(packets, 64, 48, 30.0)
    top = _boxes(data)
    assert list(top) == [b"ftyp", b"moov", b"mdat"]  # moov first: playable while loading
    stbl = data.index(b"stco")
    (offset,) = struct.unpack(">I", data[stbl + 12:stbl + 16])
    assert offset == top[b"mdat"][0]
    n = struct.unpack(">I", data[offset:offset + 4])[0]
    assert data[offset + 4] & 0x1F == 7 and n == len(annexb_nals(packets[0])[0])  # SPS first
    stsz = data.index(b"stsz")
    count = struct.unpack(">I", data[stsz + 12:stsz + 16])[0]
    sizes = struct.unpack(f">{count}I", data[stsz + 16:stsz + 16 + 4 * count])
    assert count == 5 and sum(sizes) == top[b"mdat"][1] - offset


def test_avcc_record_of_a_high_profile_sps():
    _, packets = _clip(qp=0)
    sps, pps = annexb_nals(packets[0])[:2]
    assert sps[1] == 244  # High 4:4:4 Predictive (lossless)
    rec = avcc_record(sps, pps)
    assert rec[:4] == bytes([1, 244, sps[2], sps[3]]) and rec[4] == 0xFF
    assert rec[-4:] == bytes([0xFC | 1, 0xF8, 0xF8, 0])  # 4:2:0, 8-bit luma and chroma


def test_bad_arguments():
    _, packets = _clip()
    with pytest.raises(ValueError, match="at least one frame"):
        h264_mp4_bytes([], 64, 48, 30.0)
    with pytest.raises(ValueError, match="positive"):
        h264_mp4_bytes(packets, 64, 48, 0)
    with pytest.raises(ValueError, match="SPS"):
        h264_mp4_bytes(packets[1:], 64, 48, 30.0)
