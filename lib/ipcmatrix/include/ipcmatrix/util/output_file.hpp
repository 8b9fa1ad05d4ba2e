#pragma once
/// @file output_file.hpp
/// Writing the files a user asked for (--json, --out) without ever destroying what they did
/// not ask to replace.
///
/// Contract:
///   - check_output_file / prepare_output_dir run before anything is measured: a destination
///     that cannot be written is a BadInput (exit 2) while nothing has been spawned yet.
///   - write_output_file writes a regular file (or a path that does not exist yet) atomically:
///     a temporary in the same directory, then rename(), so a reader sees the old file or the
///     new one, never a torn one. A symlink to a regular file replaces the file it points to
///     and keeps the link.
///   - Anything else is never renamed over: a FIFO, a character device (/dev/null, a tty) and
///     anything under /dev or /proc (/dev/stdout) are opened and written as a stream. A
///     dangling symlink, a directory, a socket or a block device is refused.
///   - Every failure (open, short write, close, rename) throws std::runtime_error naming the
///     path; the temporary is removed.

#include <string>
#include <string_view>

namespace ipcmatrix {

/// Throws BadInput (util/json_file.hpp) when `path` cannot take an output file. "-" is stdout.
void check_output_file(const std::string& path);
/// Creates `dir` (and parents) if missing and proves it writable by creating and removing a
/// probe file; throws BadInput naming the directory.
void prepare_output_dir(const std::string& dir);
/// Writes `text` to `path` following the contract above.
void write_output_file(const std::string& path, std::string_view text);

}  // namespace ipcmatrix
