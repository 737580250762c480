#pragma once

#include "summary.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <map>
#include <optional>

namespace agmem {

enum class MergeMode
{
    // Per agent, the summary with the newest timestamp is its current state.
    Latest,
    // Every accepted push is added up, as the reference coordinator does.
    Cumulative,
};

QString mergeModeName(MergeMode mode);
std::optional<MergeMode> mergeModeFromName(QStringView name);

// Orders strings by Unicode code point, as Python's sorted() does (QString's own
// operator< compares UTF-16 units, which puts U+E000..U+FFFF after astral characters).
struct CodePointLess
{
    bool operator()(const QString &a, const QString &b) const;
};

// What one agent adds to the merged view. Topics and facts are kept sorted, so two
// contributions are equal exactly when they hold the same counts and facts.
struct Contribution
{
    Instant timestamp = 0;
    QList<QPair<QString, qint64>> topics;
    QStringList facts;

    bool operator==(const Contribution &other) const = default;
};

struct TopicTotal
{
    qint64 total = 0;
    // Agents reporting the topic: it stays listed while one does, even with a count of 0.
    int holders = 0;
};

using TopicTotals = std::map<QString, TopicTotal, CodePointLess>;
using FactHolders = std::map<QString, qint64, CodePointLess>;

struct AgentState
{
    QString agentId;
    std::optional<Contribution> current;
    qint64 pushCount = 0;
    Instant firstSeen = 0;
    Instant lastSeen = 0;
    quint64 sequence = 0;
};

// The merged view, kept incrementally: a total per topic and, per fact, how many agents
// hold it. Applying a push costs the size of the agent's old and new summaries; a pull
// costs the size of the answer, never the length of the history.
class MergeEngine
{
public:
    explicit MergeEngine(MergeMode mode = MergeMode::Latest)
        : m_mode(mode)
    {}

    MergeMode mode() const { return m_mode; }

    struct Plan
    {
        // The agent's contribution after this push; empty when the push changes nothing
        // in the merge (a stale or repeated summary).
        std::optional<Contribution> next;
        // Set when the push would overflow a 64-bit count; the push must be refused.
        QString overflowTopic;

        bool changesMerge() const { return next.has_value(); }
        bool overflows() const { return !overflowTopic.isNull(); }
    };

    // Decides what a push does, without changing anything.
    Plan plan(const Summary &summary) const;

    // Records a push for an agent: counts it, and replaces its contribution when given.
    void apply(const QString &agentId, const std::optional<Contribution> &next, Instant receivedAt,
               quint64 sequence);
    // Loads an agent's stored state (start-up and catch-up).
    void restore(const AgentState &state);
    void removeAgent(const QString &agentId);
    void clear();

    void setSequence(quint64 sequence);
    quint64 sequence() const { return m_sequence; }

    // Reading the merged view.
    int contributingAgents() const { return m_contributors; }
    qsizetype agentCount() const { return m_agents.size(); }
    const QHash<QString, AgentState> &agents() const { return m_agents; }
    const TopicTotals &topicTotals() const { return m_topicTotals; }
    const FactHolders &factHolders() const { return m_factHolders; }
    std::optional<Instant> lastUpdated() const;

    // The body of GET /pull for the current state, compact JSON, cached per sequence.
    QByteArray pullJson() const;

    static Contribution contributionOf(const Summary &summary);

private:
    void addContribution(const Contribution &c);
    void removeContribution(const Contribution &c);

    MergeMode m_mode;
    QHash<QString, AgentState> m_agents;
    TopicTotals m_topicTotals;
    FactHolders m_factHolders;
    std::map<Instant, int> m_timestamps;
    int m_contributors = 0;
    quint64 m_sequence = 0;
    mutable QByteArray m_pullCache;
    mutable bool m_pullCacheValid = false;
};

} // namespace agmem
