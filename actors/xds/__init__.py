"""IHE XDS.b Document Registry and Document Repository actors (ITI-18, 41, 42, 43, 57);
registered with the host by `binding`."""
