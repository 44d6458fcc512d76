"""Source definitions shared by every ingestion path (sample generator, Socrata API, bulk export)."""
