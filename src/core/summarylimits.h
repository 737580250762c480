#pragma once

#include <QtGlobal>

namespace agmem {

// Bounds on one push. Each has a command-line option (see src/app/options.cpp) and is
// documented in README.md; defaults are generous for real agents (the agmem client sends
// a few topics and labels of at most 50 characters) and small enough that one push can
// never exhaust memory.
struct SummaryLimits
{
    qint64 maxBodyBytes = 16 * 1024 * 1024;
    int maxAgentIdLength = 255;
    int maxTopics = 10000;
    int maxTopicLength = 256;
    int maxFacts = 100000;
    int maxFactLength = 1024;
    qint64 maxMetadataBytes = 64 * 1024;
};

} // namespace agmem
