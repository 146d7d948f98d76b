"""What a run is: classification, MAMP pre-training, probes, BMP sweeps."""
