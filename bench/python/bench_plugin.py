"""The Python side of bench/run: a small plugin on the real PyPI `mint-sdk` 1.2.10.

It has the same routes as the Rust bench plugin (bench/rust-plugin), under /api/bench:

- GET  /ping                  -> {"ok": true}
- POST /rows                  {"name": str, "value": int} -> the row written to the plugin's
                              own table through get_plugin_db_session() and read back
- POST /analysis/{id}         JSON object -> save_analysis + load_analysis (standalone mode of
                              the Python SDK keeps no analysis results: this answers null and is
                              not benchmarked)

Served by the SDK's own create_standalone_app on uvicorn, one worker:

    HOME=<scratch dir> uvicorn bench_plugin:app --app-dir bench/python --workers 1

The standalone database lives in $HOME/.mint/plugins/mint-bench/data.db (SQLite, SQLAlchemy async
session over aiosqlite), so bench/run points HOME at a scratch directory.
"""

from typing import Any, Optional

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Field, SQLModel

from mint_sdk import AnalysisPlugin, PluginMetadata
from mint_sdk.app import create_standalone_app


class BenchRow(SQLModel, table=True):
    """The plugin's one table (same columns as the Rust plugin's `bench_rows`)."""

    __tablename__ = "bench_rows"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str
    value: int


class RowIn(BaseModel):
    name: str
    value: int


class BenchPlugin(AnalysisPlugin):
    @property
    def metadata(self) -> PluginMetadata:
        return PluginMetadata(
            name="mint-bench",
            version="0.1.0",
            description="Benchmark plugin: trivial JSON, one DB row, analysis save/load",
            analysis_type="benchmark",
            routes_prefix="/bench",
        )

    def get_shared_models(self) -> list[type]:
        return [BenchRow]

    def get_routers(self) -> list[tuple[APIRouter, str]]:
        router = APIRouter()
        plugin = self

        @router.get("/ping")
        async def ping():
            return {"ok": True}

        @router.post("/rows")
        async def write_row(body: RowIn):
            async with plugin.get_plugin_db_session() as session:
                row = BenchRow(name=body.name, value=body.value)
                session.add(row)
                await session.flush()
                result = await session.execute(select(BenchRow).where(BenchRow.id == row.id))
                stored = result.scalar_one()
                return {"id": stored.id, "name": stored.name, "value": stored.value}

        @router.post("/analysis/{experiment_id}")
        async def analysis(experiment_id: int, body: dict[str, Any]):
            await plugin.save_analysis(experiment_id, body)
            loaded = await plugin.load_analysis(experiment_id)
            return None if loaded is None else loaded.result

        return [(router, "")]


app = create_standalone_app(BenchPlugin())
