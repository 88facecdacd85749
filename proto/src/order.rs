//! The protection order body of the HTTP API (SPEC section 7).
