"""One module per HTTP surface; each exports `routes`."""
