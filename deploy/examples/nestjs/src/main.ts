import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WhoamiController } from './whoami.controller';

@Module({ controllers: [WhoamiController] })
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  const port = Number(process.env.PORT ?? 3000);
  // Loopback only: nothing but certgate may reach the app and its identity headers.
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  console.log(`listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
}
bootstrap();
