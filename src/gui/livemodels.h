#pragma once

#include "core/mergeengine.h"
#include "server/apiserver.h"
#include "store/store.h"

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

// The dashboard's copy of the merged view, read through its own read-only store
// connection. A refresh reads only the agents whose contribution changed since the
// last one (the store's change sequence), plus every agent's counters.
class LiveData
{
public:
    // `url` must be the very StoreUrl the server uses (for :memory: it names the shared
    // in-memory database).
    void setStoreUrl(const StoreUrl &url);
    // Reads what changed. `changedFacts` gets every fact whose holder count may have
    // changed. false (see lastError) when the store cannot be read yet.
    bool refresh(QSet<QString> *changedFacts);
    void reset();

    const MergeEngine &engine() const { return m_engine; }
    // Every agent's counters (sorted by id); contributions are in engine().agents().
    const QList<AgentState> &agents() const { return m_agents; }
    const StoreState &state() const { return m_state; }
    Store *store() const { return m_store.get(); }
    QString lastError() const { return m_lastError; }

private:
    std::optional<StoreUrl> m_url;
    std::unique_ptr<Store> m_store;
    MergeEngine m_engine;
    QList<AgentState> m_agents;
    StoreState m_state;
    bool m_loaded = false;
    QString m_lastError;
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
    void update(const LiveData &data);

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    // Counters by agent id; a change of `sequence` means a new contribution.
    QHash<QString, AgentState> m_counters;
    const MergeEngine *m_engine = nullptr;
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
    void update(const MergeEngine &engine);

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    const TopicTotals *m_totals = nullptr;
};

// Unique facts and how many agents hold each. Lazy: rows are the engine's own keys,
// looked up when painted; a refresh inserts and removes only the facts that changed, so
// a million facts scroll smoothly and a push costs the size of the push. Filtering is
// done here (a proxy would copy every row on each change).
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
    bool update(const MergeEngine &engine, const QSet<QString> &changed);
    void setFilter(const QString &text);
    QString filter() const { return m_filter; }
    qsizetype totalFacts() const { return m_holders ? qsizetype(m_holders->size()) : 0; }

    int columnCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    bool matches(const QString &fact) const;
    void rebuild();

    const FactHolders *m_holders = nullptr;
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
