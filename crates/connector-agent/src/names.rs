//! Tool names valid in every dialect, mapped back exactly.
