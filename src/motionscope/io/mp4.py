"""A minimal MP4 (ISO/IEC 14496-12/-15) muxer for short H.264 clips.

Opening a libavformat muxer costs about as much as encoding a whole 32-frame stimulus clip, so
stimulus clips are muxed here instead: ``ftyp``, a ``moov`` with one video track (every sample
in one chunk, sample 1 the only sync sample) and one ``mdat``, placed moov-first so players can
start before the end of the file. Samples are the encoder's Annex B access units rewritten with
4-byte NAL lengths; the ``avcC`` box is built from the first access unit's SPS and PPS, which
also stay in-band (as libavformat does). The bytes depend only on the packets, the size and the
frame rate.
"""

from __future__ import annotations

import struct
from fractions import Fraction

__all__ = ["annexb_nals", "avcc_record", "h264_mp4_bytes"]

_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def annexb_nals(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start codes and trailing zeros removed)."""
    parts = data.split(b"\x00\x00\x01")  # emulation prevention keeps it out of NAL units
    if len(parts) < 2 or parts[0].strip(b"\x00"):
        raise ValueError("not an Annex B H.264 stream (no leading start code)")
    return [p.rstrip(b"\x00") for p in parts[1:]]  # zeros before a 4-byte start code


def _rbsp(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    """Exp-Golomb reader for the few SPS fields the avcC box repeats."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def bit(self) -> int:
        byte, off = divmod(self.pos, 8)
        if byte >= len(self.data):
            raise ValueError("truncated SPS")
        self.pos += 1
        return (self.data[byte] >> (7 - off)) & 1

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code in SPS")
        value = 0
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return (1 << zeros) - 1 + value


def avcc_record(sps: bytes, pps: bytes) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) of one SPS and one PPS."""
    profile = sps[1]
    rec = bytes([1, profile, sps[2], sps[3], 0xFF, 0xE1]) + struct.pack(">H", len(sps)) + sps
    rec += b"\x01" + struct.pack(">H", len(pps)) + pps
    if profile in _HIGH_PROFILES:  # the high profiles add chroma format and bit depths
        r = _Bits(_rbsp(sps[4:]))
        r.ue()  # seq_parameter_set_id
        chroma = r.ue()
        if chroma == 3:
            r.bit()  # separate_colour_plane_flag
        luma_depth, chroma_depth = r.ue(), r.ue()
        rec += bytes([0xFC | chroma, 0xF8 | luma_depth, 0xF8 | chroma_depth, 0])
    return rec


def h264_mp4_bytes(packets: list[bytes], width: int, height: int, fps: float | Fraction) -> bytes:
    """An MP4 file holding the Annex B access units ``packets`` (first one an IDR frame with
    SPS and PPS) as one video track at ``fps``."""
    if not packets:
        raise ValueError("an mp4 clip needs at least one frame")
    rate = Fraction(fps).limit_denominator(100000)
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    timescale, delta = rate.numerator, rate.denominator
    samples, sps, pps = [], None, None
    for k, au in enumerate(packets):
        nals = annexb_nals(au)
        if k == 0:
            for n in nals:
                kind = n[0] & 0x1F
                if kind == 7 and sps is None:
                    sps = n
                elif kind == 8 and pps is None:
                    pps = n
            if sps is None or pps is None:
                raise ValueError("the first access unit carries no SPS/PPS")
        samples.append(b"".join(struct.pack(">I", len(n)) + n for n in nals))
    T = len(samples)
    duration = T * delta  # in the media time scale
    movie_ms = int(round(1000 * duration / timescale))
    visual = (bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", width, height)
              + struct.pack(">IIIH", 0x480000, 0x480000, 0, 1) + bytes(32)
              + struct.pack(">Hh", 0x18, -1))

    def moov(offset: int) -> bytes:
        stbl = _box(
            b"stbl",
            _full(b"stsd", 0, 0, struct.pack(">I", 1),
                  _box(b"avc1", visual, _box(b"avcC", avcc_record(sps, pps)))),
            _full(b"stts", 0, 0, struct.pack(">III", 1, T, delta)),
            _full(b"stss", 0, 0, struct.pack(">II", 1, 1)),
            _full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, T, 1)),
            _full(b"stsz", 0, 0, struct.pack(f">II{T}I", 0, T, *map(len, samples))),
            _full(b"stco", 0, 0, struct.pack(">II", 1, offset)))
        minf = _box(b"minf", _full(b"vmhd", 0, 1, bytes(8)),
                    _box(b"dinf", _full(b"dref", 0, 0, struct.pack(">I", 1),
                                        _full(b"url ", 0, 1))), stbl)
        mdia = _box(b"mdia",
                    _full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration,
                                                     0x55C4, 0)),  # language "und"
                    _full(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00"),
                    minf)
        tkhd = _full(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, movie_ms), bytes(8),
                     struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX,
                     struct.pack(">II", width << 16, height << 16))
        mvhd = _full(b"mvhd", 0, 0, struct.pack(">IIIIIH", 0, 0, 1000, movie_ms, 0x10000, 0x100),
                     bytes(10), _MATRIX, bytes(24), struct.pack(">I", 2))
        return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))

    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2avc1mp41")
    head = len(ftyp) + len(moov(0)) + 8  # moov's size does not depend on the offset
    mdat = b"".join(samples)
    return ftyp + moov(head) + struct.pack(">I", 8 + len(mdat)) + b"mdat" + mdat
