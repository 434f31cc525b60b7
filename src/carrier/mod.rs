//! The carrier (VNPost) adapter and the sandbox carrier. Work in progress.
