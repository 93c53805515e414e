"""Care-coordination services: pathway enrolment, care circles, access mandates, the
patient's oppositions and the coordination events (INTERFACES.md "Coordination services")."""
