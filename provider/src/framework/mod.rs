//! Framework: schemas, plan rules, diagnostics and the protocol-6 server.
