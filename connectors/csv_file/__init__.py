"""CSV file connector: an employee file pulled over SFTP or HTTPS (or, where
allowed, read from a local path). See connector.py for the overview."""
