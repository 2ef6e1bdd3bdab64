"""What the model-backed tasks (translate, summarise, extract) share: prompt specifications,
output errors, framing of untrusted report text, and the service that talks to the engine over
the bus."""
