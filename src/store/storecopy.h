#pragma once

#include "store.h"

#include <QString>

namespace agmem {

struct StoreCounts
{
    qint64 summaries = 0;
    qint64 agents = 0;
    qint64 keys = 0;
    quint64 sequence = 0;
    qint64 totalPushes = 0;

    bool empty() const
    {
        return summaries == 0 && agents == 0 && keys == 0 && sequence == 0 && totalPushes == 0;
    }
    bool operator==(const StoreCounts &) const = default;
    QString describe() const;
};

std::optional<StoreCounts> countStore(Store &store);

// agmem-coordinator migrate: copies everything (history, agents, API keys, the state with
// its database id and change sequence, so ETags stay valid) from one store to another, in
// one transaction on the target, then checks that both hold the same counts. Refuses a
// target that holds data unless `replace`, which deletes it first (in the same transaction).
bool copyStore(Store &from, Store &to, bool replace, StoreCounts *copied, QString *error);

} // namespace agmem
