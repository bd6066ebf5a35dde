"""The REST endpoints other systems call: uploads now, webhooks next (DESIGN §1, inbound)."""
