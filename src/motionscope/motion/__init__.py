"""Parameter-free motion maps: patch flow, pixel flow, PA, dynamic images."""
