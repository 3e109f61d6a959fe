"""The store as a crashed process sees it: nothing it writes arrives (crash-and-resume tests)."""


class DeadStore:
    async def append(self, *args, **kwargs):
        pass

    async def update(self, *args, **kwargs):
        pass

    async def renew(self, *args, **kwargs):
        return True


class AwayStore:
    """A store that is away while `away` is set (its writes and lease renewals raise StoreError,
    as a PostgreSQL store's do while the server is down); the store it wraps otherwise."""

    def __init__(self, store):
        self.store = store
        self.away = False

    def __getattr__(self, name):
        return getattr(self.store, name)

    def _check(self):
        if self.away:
            from asl.engine.stores import StoreError
            raise StoreError("the store is away")

    async def append(self, *args, **kwargs):
        self._check()
        return await self.store.append(*args, **kwargs)

    async def renew(self, *args, **kwargs):
        self._check()
        return await self.store.renew(*args, **kwargs)
