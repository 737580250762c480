#pragma once

#include <QString>

#include <optional>

namespace agmem {

// Where the coordinator keeps its data: --db / DATABASE_URL.
//   (unset)                       SQLite file in the platform's app-data folder
//   sqlite:///abs/path.db         SQLite file (a plain path works too)
//   :memory:                      throwaway in-memory SQLite, gone at exit
//   postgresql://u:p@host:5432/db PostgreSQL
struct StoreUrl
{
    enum class Kind
    {
        SqliteFile,
        SqliteMemory,
        PostgreSql
    };

    Kind kind = Kind::SqliteFile;
    QString path; // SQLite file
    QString host;
    int port = 5432;
    QString user;
    QString password;
    QString database;
    QString connectOptions; // PostgreSQL: sslmode=...; etc.

    static std::optional<StoreUrl> parse(const QString &text, QString *error);
    static StoreUrl defaultLocation();

    bool isSqlite() const { return kind != Kind::PostgreSql; }
    // For logs and the window: never shows a password.
    QString displayName() const;
};

} // namespace agmem
