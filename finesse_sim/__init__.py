"""The simulated Cisco Finesse: contact-centre model, REST API, XMPP notifications."""
