#pragma once

#include "timestamp.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

namespace agmem {

// One validated push: an agent's summary of its memory.
struct Summary
{
    QString agentId;
    Instant timestamp = 0;
    // Topic name -> count, sorted by name (as QJsonObject orders its keys), without
    // duplicates.
    QList<QPair<QString, qint64>> topicCounts;
    // Labels or hashes, duplicates removed, in the order first seen.
    QStringList factHashes;
    QJsonObject metadata;
    QJsonArray memoryTypes;
    bool hasMetadata = false;
    bool hasMemoryTypes = false;
};

} // namespace agmem
