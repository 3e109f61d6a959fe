"""The store as a crashed process sees it: nothing it writes arrives (crash-and-resume tests)."""


class DeadStore:
    async def append(self, *args, **kwargs):
        pass

    async def update(self, *args, **kwargs):
        pass

    async def renew(self, *args, **kwargs):
        return True
