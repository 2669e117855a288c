"""Several knowledge bases (issue 36): each one an index folder with its own documents, index,
settings, question log and FAQ."""
