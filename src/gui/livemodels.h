#pragma once

#include "core/mergeengine.h"
#include "server/apiserver.h"
#include "store/store.h"
#include "storereader.h"

#include <QAbstractTableModel>
#include <QList>
#include <QSet>
#include <QStringList>

#include <deque>
#include <memory>
#include <vector>

namespace agmem {

// Sort key for proxies: raw numbers and instants instead of the display text.
inline constexpr int SortRole = Qt::UserRole + 1;

// The window's copy of what the reader (storereader.h) found: every agent's counters and
// contribution, the topic totals and the store's state. Applied on the GUI thread from the
// reader's deltas; costs the size of the change.
class LiveView
{
public:
    void apply(const LiveDelta &delta);

    // Every agent's counters, sorted by id.
    const QList<AgentState> &agents() const { return m_agents; }
    // Contributions by agent id.
    const QHash<QString, AgentState> &contributions() const { return m_contributions; }
    const TopicTotals &topics() const { return m_topics; }
    const StoreState &state() const { return m_state; }
    qsizetype factCount() const { return m_factCount; }
    // The first snapshot has arrived.
    bool loaded() const { return m_loaded; }

private:
    QList<AgentState> m_agents;
    QHash<QString, AgentState> m_contributions;
    TopicTotals m_topics;
    StoreState m_state;
    qsizetype m_factCount = 0;
    bool m_loaded = false;
};

// Keeps rows keyed by sorted strings, inserting and removing only what changed so views
// keep their selection and scroll position.
class KeyedTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    using QAbstractTableModel::QAbstractTableModel;
    int rowCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : int(m_keys.size());
    }
    const QString &keyAt(int row) const { return m_keys.at(size_t(row)); }
    int rowOf(const QString &key) const;
    // The row of `key`, else of the first key after it, else the last row (-1: no rows).
    int rowAtOrAfter(const QString &key) const;

protected:
    // Replaces the keys (both sorted by code point) and marks every row changed.
    void syncKeys(std::vector<QString> next);
    // Replaces the keys, inserting and removing rows; marks nothing changed.
    void replaceKeys(std::vector<QString> next);
    // Inserts and removes rows one by one, or resets the model when that is cheaper (then
    // returns true: the views lose their position).
    bool applyChanges(const std::vector<QString> &added, const std::vector<QString> &removed);
    void allRowsChanged();

    std::vector<QString> m_keys;
};

class AgentsModel : public KeyedTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Agent,
        FirstSeen,
        LastSeen,
        Pushes,
        Topics,
        Facts,
        ColumnCount
    };
    using KeyedTableModel::KeyedTableModel;
    void update(const LiveView &view);

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    // Counters by agent id; a change of `sequence` means a new contribution.
    QHash<QString, AgentState> m_counters;
    const LiveView *m_view = nullptr;
};

class TopicsModel : public KeyedTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Topic,
        Count,
        Agents,
        ColumnCount
    };
    using KeyedTableModel::KeyedTableModel;
    void update(const TopicTotals &totals);

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    const TopicTotals *m_totals = nullptr;
};

// Unique facts and how many agents hold each, applied from the reader's deltas: a small
// change inserts and removes single rows (views keep their place), a large one swaps in
// the list the reader sorted, so a million facts scroll smoothly and a push costs the GUI
// thread the size of the push. Filtering is done here (a proxy would copy every row on
// each change).
class FactsModel : public KeyedTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Fact,
        Holders,
        ColumnCount
    };
    using KeyedTableModel::KeyedTableModel;
    // True when the rows were reset rather than inserted and removed one by one.
    bool apply(const LiveDelta &delta);
    void setFilter(const QString &text);
    QString filter() const { return m_filter; }
    qsizetype totalFacts() const { return m_holders.size(); }

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    bool matches(const QString &fact) const;
    void rebuild();

    QHash<QString, qint64> m_holders;
    // Every fact, sorted, while a filter is set (else m_keys holds them all).
    std::vector<QString> m_all;
    QString m_filter;
};

// The latest requests, newest first, at most `capacity` rows.
class ActivityModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column
    {
        Time,
        Agent,
        Request,
        Source,
        Status,
        Reason,
        ColumnCount
    };
    explicit ActivityModel(QObject *parent = nullptr);
    void append(const QList<RequestEvent> &events);
    void clear();
    void setPaused(bool paused);
    bool paused() const { return m_paused; }
    // Requests that arrived while paused, shown on resume.
    qsizetype heldCount() const { return m_held.size(); }
    void setCapacity(int capacity) { m_capacity = capacity; }
    int capacity() const { return m_capacity; }

    int rowCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : int(m_rows.size());
    }
    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    void insert(const QList<RequestEvent> &events);

    std::deque<RequestEvent> m_rows;
    QList<RequestEvent> m_held; // arrived while paused
    int m_capacity = 1000;
    bool m_paused = false;
};

// Instants as local date and time, for every view.
QString formatInstant(Instant instant);

} // namespace agmem
