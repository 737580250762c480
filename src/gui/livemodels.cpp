#include "livemodels.h"

#include "stallprobe.h"

#include "server/httpmessage.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QLocale>
#include <QThreadPool>

#include <algorithm>

namespace agmem {

QString formatInstant(Instant instant)
{
    if (instant <= 0)
        return {};
    return QDateTime::fromMSecsSinceEpoch(instant / 1000)
        .toLocalTime()
        .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

// ---------------------------------------------------------------------------- LiveView

void LiveView::apply(const LiveDelta &delta)
{
    const StallProbe::Scope probe("live view");
    if (delta.reset)
        m_contributions.clear();
    for (const QString &id : delta.goneAgents)
        m_contributions.remove(id);
    for (const AgentState &agent : delta.changedAgents)
        m_contributions.insert(agent.agentId, agent);
    if (delta.topics)
        m_topics = *delta.topics;
    m_agents = delta.counters;
    m_state = delta.state;
    m_factCount = delta.factCount;
    m_loaded = true;
}

// ------------------------------------------------------------------------ KeyedTableModel

int KeyedTableModel::rowOf(const QString &key) const
{
    const auto it = std::lower_bound(m_keys.cbegin(), m_keys.cend(), key, CodePointLess{});
    return it != m_keys.cend() && *it == key ? int(it - m_keys.cbegin()) : -1;
}

int KeyedTableModel::rowAtOrAfter(const QString &key) const
{
    if (m_keys.empty())
        return -1;
    const auto it = std::lower_bound(m_keys.cbegin(), m_keys.cend(), key, CodePointLess{});
    return it == m_keys.cend() ? int(m_keys.size()) - 1 : int(it - m_keys.cbegin());
}

void KeyedTableModel::syncKeys(std::vector<QString> next)
{
    replaceKeys(std::move(next));
    allRowsChanged();
}

void KeyedTableModel::replaceKeys(std::vector<QString> next)
{
    if (next != m_keys) {
        std::vector<QString> added;
        std::vector<QString> removed;
        std::set_difference(next.cbegin(), next.cend(), m_keys.cbegin(), m_keys.cend(),
                            std::back_inserter(added), CodePointLess{});
        std::set_difference(m_keys.cbegin(), m_keys.cend(), next.cbegin(), next.cend(),
                            std::back_inserter(removed), CodePointLess{});
        applyChanges(added, removed);
    }
}

bool KeyedTableModel::applyChanges(const std::vector<QString> &added,
                                   const std::vector<QString> &removed)
{
    if (added.empty() && removed.empty())
        return false;
    const size_t changes = added.size() + removed.size();
    // One row at a time keeps selections and scroll positions, but each costs a move of
    // every later row: past a point, one reset is cheaper.
    if (changes > 256 || changes * std::max<size_t>(m_keys.size(), 1) > 4'000'000) {
        // One pass over the sorted keys that moves them (a copy of a million QStrings costs
        // two million atomic reference-count changes).
        beginResetModel();
        const CodePointLess less;
        std::vector<QString> next;
        next.reserve(m_keys.size() + added.size());
        auto gone = removed.cbegin();
        auto fresh = added.cbegin();
        for (QString &key : m_keys) {
            while (gone != removed.cend() && less(*gone, key))
                ++gone;
            if (gone != removed.cend() && *gone == key)
                continue;
            while (fresh != added.cend() && less(*fresh, key))
                next.push_back(*fresh++);
            if (fresh != added.cend() && *fresh == key)
                ++fresh;
            next.push_back(std::move(key));
        }
        next.insert(next.end(), fresh, added.cend());
        m_keys = std::move(next);
        endResetModel();
        return true;
    }
    for (const QString &key : removed) {
        const int row = rowOf(key);
        if (row < 0)
            continue;
        beginRemoveRows({}, row, row);
        m_keys.erase(m_keys.begin() + row);
        endRemoveRows();
    }
    for (const QString &key : added) {
        const auto it = std::lower_bound(m_keys.cbegin(), m_keys.cend(), key, CodePointLess{});
        if (it != m_keys.cend() && *it == key)
            continue;
        const int row = int(it - m_keys.cbegin());
        beginInsertRows({}, row, row);
        m_keys.insert(m_keys.begin() + row, key);
        endInsertRows();
    }
    return false;
}

void KeyedTableModel::allRowsChanged()
{
    if (!m_keys.empty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

// ---------------------------------------------------------------------------- AgentsModel

void AgentsModel::update(const LiveView &data)
{
    const StallProbe::Scope probe("agents model");
    m_view = &data;
    // Only rows whose counters changed are marked changed: with the view sorted by a
    // counter, every marked row is sorted again.
    QHash<QString, AgentState> counters;
    counters.reserve(data.agents().size());
    std::vector<QString> keys;
    keys.reserve(size_t(data.agents().size()));
    std::vector<QString> changed;
    for (const AgentState &agent : data.agents()) {
        const auto old = m_counters.constFind(agent.agentId);
        if (old != m_counters.cend() &&
            (old->pushCount != agent.pushCount || old->lastSeen != agent.lastSeen ||
             old->firstSeen != agent.firstSeen || old->sequence != agent.sequence))
            changed.push_back(agent.agentId);
        counters.insert(agent.agentId, agent);
        keys.push_back(agent.agentId);
    }
    m_counters = std::move(counters);
    replaceKeys(std::move(keys));
    // One signal for the span of changed rows (a proxy re-sorts once per signal).
    int first = rowCount();
    int last = -1;
    for (const QString &id : changed) {
        const int row = rowOf(id);
        if (row < 0)
            continue;
        first = std::min(first, row);
        last = std::max(last, row);
    }
    if (last >= 0)
        Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
}

QVariant AgentsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    if (role == Qt::TextAlignmentRole && index.column() >= Pushes)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && index.column() == Agent)
        return keyAt(index.row());
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    // Called for every comparison when the view sorts: no copies, the engine only for
    // the columns that need it.
    const QString &id = keyAt(index.row());
    static const AgentState none;
    const auto found = m_counters.constFind(id);
    const AgentState &agent = found != m_counters.cend() ? *found : none;
    qsizetype topics = 0;
    qsizetype facts = 0;
    if (m_view && index.column() >= Topics) {
        const auto it = m_view->contributions().constFind(id);
        if (it != m_view->contributions().cend() && it->current) {
            topics = it->current->topics.size();
            facts = it->current->facts.size();
        }
    }
    const bool sort = role == SortRole;
    switch (index.column()) {
    case Agent:
        return id;
    case FirstSeen:
        return sort ? QVariant(agent.firstSeen) : QVariant(formatInstant(agent.firstSeen));
    case LastSeen:
        return sort ? QVariant(agent.lastSeen) : QVariant(formatInstant(agent.lastSeen));
    case Pushes:
        return sort ? QVariant(agent.pushCount) : QVariant(QLocale().toString(agent.pushCount));
    case Topics:
        return sort ? QVariant(topics) : QVariant(QLocale().toString(topics));
    case Facts:
        return sort ? QVariant(facts) : QVariant(QLocale().toString(facts));
    }
    return {};
}

QVariant AgentsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Agent:
        return tr("Agent");
    case FirstSeen:
        return tr("First seen");
    case LastSeen:
        return tr("Last seen");
    case Pushes:
        return tr("Pushes");
    case Topics:
        return tr("Topics");
    case Facts:
        return tr("Facts");
    }
    return {};
}

// ---------------------------------------------------------------------------- TopicsModel

void TopicsModel::update(const TopicTotals &totals)
{
    const StallProbe::Scope probe("topics model");
    m_totals = &totals;
    std::vector<QString> keys;
    keys.reserve(m_totals->size());
    for (const auto &[topic, total] : *m_totals)
        keys.push_back(topic);
    std::sort(keys.begin(), keys.end(), CodePointLess{}); // the engine's map is hashed
    syncKeys(std::move(keys));
}

QVariant TopicsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || !m_totals)
        return {};
    const QString &topic = keyAt(index.row());
    const auto it = m_totals->find(topic);
    const TopicTotal total = it != m_totals->end() ? it->second : TopicTotal{};
    if (role == Qt::DisplayRole || role == SortRole) {
        const bool sort = role == SortRole;
        switch (index.column()) {
        case Topic:
            return topic;
        case Count:
            return sort ? QVariant(total.total) : QVariant(QLocale().toString(total.total));
        case Agents:
            return sort ? QVariant(total.holders) : QVariant(QLocale().toString(total.holders));
        }
    }
    if (role == Qt::TextAlignmentRole && index.column() != Topic)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant TopicsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Topic:
        return tr("Topic");
    case Count:
        return tr("Merged count");
    case Agents:
        return tr("Agents");
    }
    return {};
}

// ----------------------------------------------------------------------------- FactsModel

bool FactsModel::matches(const QString &fact) const
{
    return m_filter.isEmpty() || fact.contains(m_filter, Qt::CaseInsensitive);
}

namespace {

// Containers handed over by the reader are let go of on another thread: freeing a million
// strings is not the window's work either.
template <typename T>
void releaseElsewhere(T &&value)
{
    if (value.size() < 10'000)
        return;
    QThreadPool::globalInstance()->start(
        [doomed = std::move(value)]() mutable { T().swap(doomed); });
}

} // namespace

void FactsModel::rebuild()
{
    if (m_filter.isEmpty()) {
        if (!m_all.empty()) {
            beginResetModel();
            m_keys = std::move(m_all);
            m_all.clear();
            endResetModel();
        }
        return;
    }
    if (m_all.empty())
        m_all = std::move(m_keys);
    std::vector<QString> keys;
    for (const QString &fact : m_all) {
        if (matches(fact))
            keys.push_back(fact);
    }
    beginResetModel();
    m_keys = std::move(keys);
    endResetModel();
}

void FactsModel::setFilter(const QString &text)
{
    if (text == m_filter)
        return;
    m_filter = text;
    rebuild();
}

bool FactsModel::apply(const LiveDelta &delta)
{
    const StallProbe::Scope probe("facts model");
    if (delta.allHolders) {
        QHash<QString, qint64> old;
        old.swap(m_holders);
        m_holders.swap(*delta.allHolders);
        releaseElsewhere(std::move(old));
    } else {
        for (const auto &[fact, count] : delta.changedFacts) {
            if (count > 0)
                m_holders.insert(fact, count);
            else
                m_holders.remove(fact);
        }
    }
    if (delta.allFacts) {
        // Sorted by the reader: swapped in whole.
        std::vector<QString> old;
        if (m_filter.isEmpty()) {
            beginResetModel();
            old.swap(m_keys);
            m_keys.swap(*delta.allFacts);
            endResetModel();
        } else {
            old.swap(m_all);
            m_all.swap(*delta.allFacts);
            rebuild();
        }
        releaseElsewhere(std::move(old));
        return true;
    }
    std::vector<QString> added;
    std::vector<QString> removed;
    for (const auto &[fact, count] : delta.changedFacts) {
        const bool shown = rowOf(fact) >= 0;
        const bool wanted = count > 0 && matches(fact);
        if (wanted && !shown)
            added.push_back(fact);
        else if (!wanted && shown)
            removed.push_back(fact);
        if (!m_filter.isEmpty()) {
            const auto it = std::lower_bound(m_all.cbegin(), m_all.cend(), fact, CodePointLess{});
            const bool listed = it != m_all.cend() && *it == fact;
            if (count > 0 && !listed)
                m_all.insert(it, fact);
            else if (count == 0 && listed)
                m_all.erase(it);
        }
    }
    // changedFacts is sorted: so are these.
    const bool reset = applyChanges(added, removed);
    // Holder counts: the views repaint only the visible rows.
    allRowsChanged();
    return reset;
}

QVariant FactsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const QString &fact = keyAt(index.row());
    if (role == Qt::DisplayRole || role == SortRole) {
        if (index.column() == Fact)
            return fact;
        const qint64 holders = m_holders.value(fact);
        return role == SortRole ? QVariant(holders) : QVariant(QLocale().toString(holders));
    }
    if (role == Qt::TextAlignmentRole && index.column() == Holders)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant FactsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    return section == Fact ? tr("Fact") : tr("Agents holding it");
}

// -------------------------------------------------------------------------- ActivityModel

ActivityModel::ActivityModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

void ActivityModel::append(const QList<RequestEvent> &events)
{
    const StallProbe::Scope probe("activity model");
    if (events.isEmpty())
        return;
    if (m_paused) {
        m_held += events;
        if (m_held.size() > m_capacity)
            m_held.remove(0, m_held.size() - m_capacity);
        return;
    }
    insert(events);
}

void ActivityModel::insert(const QList<RequestEvent> &events)
{
    const qsizetype count = std::min<qsizetype>(events.size(), m_capacity);
    const auto first = events.cend() - count;
    beginInsertRows({}, 0, int(count) - 1);
    for (auto it = first; it != events.cend(); ++it)
        m_rows.push_front(*it); // newest first
    endInsertRows();
    if (m_rows.size() > size_t(m_capacity)) {
        beginRemoveRows({}, m_capacity, int(m_rows.size()) - 1);
        m_rows.resize(size_t(m_capacity));
        endRemoveRows();
    }
}

void ActivityModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_held.clear();
    endResetModel();
}

void ActivityModel::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (!paused && !m_held.isEmpty())
        insert(std::exchange(m_held, {}));
}

QVariant ActivityModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const RequestEvent &e = m_rows.at(size_t(index.row()));
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Time:
            return QDateTime::fromMSecsSinceEpoch(e.at / 1000)
                .toLocalTime()
                .toString(QStringLiteral("HH:mm:ss.zzz"));
        case Agent:
            return e.agentId;
        case Request:
            return e.method.isEmpty() ? tr("(refused before reading)")
                                      : QString::fromLatin1(e.method) + u' ' + e.path;
        case Source:
            return e.source;
        case Status:
            return e.status;
        case Reason:
            if (e.note == u"merged")
                return tr("merged");
            if (e.note == u"unchanged")
                return tr("accepted, merge unchanged (repeated or older summary)");
            if (!e.note.isEmpty())
                return e.note;
            return QString::fromLatin1(reasonPhrase(e.status));
        }
    }
    if (role == Qt::ToolTipRole && index.column() == Time)
        return formatInstant(e.at);
    if (role == Qt::ForegroundRole && index.column() == Status) {
        if (e.status >= 400)
            return QBrush(QColor(0xc5, 0x22, 0x1f));
        if (e.status >= 200 && e.status < 300)
            return QBrush(QColor(0x1d, 0x7a, 0x3a));
    }
    if (role == Qt::TextAlignmentRole && index.column() == Status)
        return int(Qt::AlignCenter);
    return {};
}

QVariant ActivityModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Time:
        return tr("Time");
    case Agent:
        return tr("Agent");
    case Request:
        return tr("Request");
    case Source:
        return tr("Source");
    case Status:
        return tr("Status");
    case Reason:
        return tr("Result");
    }
    return {};
}

} // namespace agmem
