// Child processes of this process, as the kernel lists them, for the two places that must act on
// a child they did not start themselves: a signal watcher abandoning the current build or run, and
// the during-* failpoints waiting for one to exist.
//
// base::run_process() blocks its caller and does not expose the child's pid. Every child it starts
// leads its own process group, so killing the group of every direct child ends the current
// command and everything it started. Linux only (/proc/self/task/*/children, Linux >= 3.5 with
// CONFIG_PROC_CHILDREN, which every distribution kernel has).
//
// Thread rules: safe from any thread; not async-signal-safe (call from a signal-watching thread).
#pragma once

#include <sys/types.h>

#include <vector>

namespace flakebisect::base {

// The pids of this process's live children (any thread's), ascending.
std::vector<pid_t> child_processes();

// Sends `signal` to the process group of every child (falling back to the child alone when it
// does not lead a group). Returns how many children were signalled.
size_t signal_child_process_groups(int signal);

}  // namespace flakebisect::base
